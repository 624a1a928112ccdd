"""An evo-fastslow plugin: `ReversalBandit` (a task) and `LeakyRNNCore` (a core with its own gene, `leak`)."""
