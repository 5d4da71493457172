"""A complete solution saved as an old nbformat 3 notebook: upgraded and graded normally."""


def build(path, solution_cells):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in solution_cells]
    v3 = nbformat.convert(nb, 3)
    assert v3["nbformat"] == 3 and "worksheets" in v3
    nbformat.write(v3, str(path), version=3)


EXPECT_SCORE = 10
