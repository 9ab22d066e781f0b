"""What the text and customer trainers share: labels, selection by cross-validation,
evaluation, plots, model cards, progress, registration and batch prediction."""
