class Net:
    """Not a module: a same-named class in an unrelated module."""

    def __call__(self, x):
        return x

    def parameters(self):
        return []
