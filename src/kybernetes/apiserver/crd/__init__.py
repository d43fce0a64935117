"""CustomResourceDefinitions: the kinds they serve and the controller that serves them."""
