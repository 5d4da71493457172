"""gradients (only) computed with PyTorch autograd: 0 for gradients and training, the rest counts."""

TORCH_BACKWARD = '''
@add_to_class(CompleteNeuralNetwork)
def gradients(self, X, y):
    import torch
    Ws = [torch.tensor(W, requires_grad=True) for W in self.weights]
    bs = [torch.tensor(b, requires_grad=True) for b in self.biases]
    a = torch.tensor(X)
    for i, (W, b) in enumerate(zip(Ws, bs)):
        a = a @ W.T + b
        if i < len(Ws) - 1:
            a = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[self.activation](a)
    torch.nn.functional.cross_entropy(a, torch.tensor(y)).backward()
    return [W.grad.numpy() for W in Ws], [b.grad.numpy() for b in bs]
'''


def cells(solution_cells):
    return [TORCH_BACKWARD if "def gradients(" in src else src for src in solution_cells]


EXPECT_SCORE = 5
EXPECT_STATUS = {"ex1.backward": "failed", "ex1.train": "failed"}
EXPECT_OUTPUT = ["import torch", "Exercise 1 is written from scratch with NumPy only"]
