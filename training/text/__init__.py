"""The text models (demand classifier, spam filter): the built-in corpus, features, the
calibrated SVM with its fast scorer, abstention, and the trainer."""
