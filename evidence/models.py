# Catalog snapshots, evidence items and usage records arrive with issues #5 and #7.
