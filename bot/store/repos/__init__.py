"""One repository per table family; bot.store.repositories re-exports them."""
