"""Request and response models, one module per resource; every schema carries an example."""
