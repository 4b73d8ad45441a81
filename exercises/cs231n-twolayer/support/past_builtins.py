"""Stand-in for the `future` package's past.builtins, which CS231n's older files import."""

xrange = range
