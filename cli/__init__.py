"""The command line: ``safer-spaces`` and its sub-commands, in one package."""
