"""`krel promote files`: the file promoter (kpromo run files): manifests, a pure plan per file and destination, and
the verified copy."""
