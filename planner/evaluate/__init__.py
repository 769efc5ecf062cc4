"""One vectorised evaluator per plan kind: columns of plans in, a table of answers out."""
