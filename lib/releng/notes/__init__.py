"""Release notes: gather merged PRs over a revision range, extract krel's notes, apply maps, group and render."""
