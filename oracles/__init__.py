"""Reference tools our numbers are checked against (tshark, DeepFlow), for tests and bench/."""
