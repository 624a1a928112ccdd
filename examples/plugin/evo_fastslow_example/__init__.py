"""An evo-fastslow plugin: `ReversalBandit` (a task), `LeakyRNNCore` (a core with its own gene, `leak`)
and `CrossEntropy` (a searcher)."""
