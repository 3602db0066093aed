"""A partner site's own training script: softmax (multinomial logistic) regression in numpy on
the site's rows of the iris flowers, run by `tributary-site` once per round.

The site's data is a CSV file (four standardised features, then the class 0-2) named by
SITE_DATA; it never leaves the site. Only the trained weights go back, through the agent.
"""
import os

import numpy as np

from tributary_task import load_task

EPOCHS = 20


def softmax(scores):
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


task = load_task()
data = np.loadtxt(os.environ["SITE_DATA"], delimiter=",", ndmin=2)
x, y = data[:, :4], data[:, 4].astype(int)
onehot = np.eye(3)[y]
w = task.model["w"].astype(np.float64)
b = task.model["b"].astype(np.float64)
lr = float(task.config.get("lr", "1"))

for epoch in range(EPOCHS):
    p = softmax(x @ w + b)
    loss = float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-12)))
    task.log({"loss": loss}, step=epoch)
    grad = (p - onehot) / len(y)
    w -= lr * x.T @ grad
    b -= lr * grad.sum(axis=0)

accuracy = float(np.mean(softmax(x @ w + b).argmax(axis=1) == y))
task.submit({"w": w, "b": b}, num_examples=len(y), metrics={"loss": loss, "accuracy": accuracy})
print(f"{len(y)} rows, loss {loss:.3f}, local accuracy {accuracy:.2f}")
