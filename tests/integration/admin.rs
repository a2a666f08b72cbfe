//! Admin CLI commands against a real Knot: every command, its output and its error paths.
