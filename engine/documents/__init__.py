"""Step documents: a package's templates filled from a case as PDF, and the signed copies kept with the case."""
