"""The demo help desk: a builder and its text, kept out of the domain it exercises."""
