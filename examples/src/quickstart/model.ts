// The softmax regression model, shared with `tributary-site simulate --example quickstart`.
export { accuracy, crossEntropy, fromTensors, initModel, predict, toTensors, train } from '@tributary/client-sdk/simulation';
export type { SoftmaxModel, TrainOptions } from '@tributary/client-sdk/simulation';
