"""The loader, the only writer of the ``raw`` schema: the warehouse file, its numbered
migrations, the manifest and one transaction per file (``warehouse``), and finding the files
under the paths a user gives and the node they belong to (``files``)."""
