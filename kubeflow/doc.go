// Package kubeflow recognises model servers (TF Serving, KServe predictors) among Kubernetes Services
// and produces the Mappings that serve each model at a path like /models/<name>/. It is pure: a
// Service and the pods it selects go in, a Recognition comes out (Recognise); models and a path
// template go in, one path per model comes out, with cross-namespace name conflicts resolved (Assign);
// a model and its path go in, the text of the kfgate.io/generated-config annotation comes out
// (Generate). The controller that writes the annotation is the stateful edge and lives elsewhere.
package kubeflow
