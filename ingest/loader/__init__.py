"""The loader, the only writer of the ``raw`` schema: the warehouse file and its numbered
migrations, the manifest and one transaction per file (``warehouse`` ties the modules together;
its docstring lists them), and finding the files under the paths a user gives and the node they
belong to (``files``)."""
