"""Root test configuration shared by every test directory."""

# Imported up front: hypothesis's pytest plugin imports it at the end of a session that
# never did, and CPython 3.11.7 can then fail parsing it ("AST constructor recursion depth
# mismatch") if any RecursionError was raised and caught earlier in the run.
import hypothesis  # noqa: F401
