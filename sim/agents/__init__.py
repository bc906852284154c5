"""The agents, one module each: Pakistan, the Taliban, militant groups, mediators,
external influences; ``learning`` holds the logit choice and learned attractions the
two states share."""
