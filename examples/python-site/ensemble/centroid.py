"""A nearest-centroid classifier: one mean point per class; a row's class probabilities are a
softmax over minus its squared distances to them. Trained from scratch on the site's rows each
round, as an ensemble member (tensor "centroids", 3 x 4)."""
import numpy as np

from site_data import NUM_CLASSES, load, softmax
from tributary_task import load_task

task = load_task()
(x, y), (vx, vy) = load()
# A class the site never saw sits at the origin: the features are standardised.
centroids = np.stack([x[y == k].mean(axis=0) if (y == k).any() else np.zeros(x.shape[1]) for k in range(NUM_CLASSES)])


def predict(rows):
    return softmax(-((rows[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2))


val_accuracy = float(np.mean(predict(vx).argmax(axis=1) == vy)) if len(vy) else 0.0
task.submit({"centroids": centroids.astype(np.float32)}, num_examples=len(y), metrics={"val_accuracy": max(val_accuracy, 0.01)})
print(f"nearest centroid: {len(y)} rows, validation accuracy {val_accuracy:.2f}")
