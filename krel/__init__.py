"""krel: the command-line front of the releng libraries."""
