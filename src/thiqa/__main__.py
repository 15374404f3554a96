"""``python -m thiqa`` runs the CLI."""

from thiqa.cli import main

main()
