"""``python -m thiqa`` runs the CLI."""

from thiqa.cli import main

# Guarded: the bulk loader's reader process (spawn) imports the main module again.
if __name__ == "__main__":
    main()
