"""deb and rpm packages of a release and their signed repositories, one per minor as pkgs.k8s.io lays them out:
spec (what a package holds, checked), deb and rpm (the builders), keys (GPG), repo (apt and rpm indexes),
publish (write-once to the package bucket), build (the entry point `krel packages build` and stage call)."""
