"""`python -m bodega`: the bodega CLI."""
from bodega.cli import main

main()
