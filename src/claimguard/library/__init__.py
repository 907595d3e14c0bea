"""The NHSA rule library: knowledge points, parametric rule types, the coverage catalog."""
