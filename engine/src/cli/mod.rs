//! The `lockgate` command line.
