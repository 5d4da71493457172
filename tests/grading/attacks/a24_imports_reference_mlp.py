"""The reference MLP of the package dressed up as the learner's class."""

from . import every_part

CELLS = [
    "import numpy as np\nfrom dlbasics import MLP",
    "class CompleteNeuralNetwork(MLP):\n"
    "    def __init__(self, layer_sizes, activation='relu', seed=0):\n"
    "        super().__init__(layer_sizes, activation=activation, seed=seed, dtype=np.float64)\n"
    "    def train(self, X, y, epochs, batch_size=32, learning_rate=0.1):\n"
    "        return self.fit(X, y, epochs=epochs, batch_size=batch_size).loss",
]
EXPECT_SCORE = 0
EXPECT_STATUS = every_part("failed")
EXPECT_OUTPUT = ["Exercise 1 is written from scratch with NumPy only", "from dlbasics import MLP"]
