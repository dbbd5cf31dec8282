"""`python -m bodega`: the bodega CLI."""
from bodega.cli import main

# Named `bodega` so usage lines and shell completion (_BODEGA_COMPLETE) match the installed command.
main(prog_name="bodega")
