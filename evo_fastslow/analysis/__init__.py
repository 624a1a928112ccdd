"""What a user asks of a finished run: the top genomes, best-so-far, the inductive biases selected."""
