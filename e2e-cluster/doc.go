// Package cluster is the e2e suite on a real control plane (`make e2e-cluster`): etcd, kube-apiserver
// and Tekton's controller, built from their Go modules at the versions of go.mod, with the policy served
// as policy-server serves it, behind webhooks registered as Kubewarden's controller registers the
// ClusterAdmissionPolicies of deploy/cluster/. Every test is in the _test.go files; this package has
// no code of its own that ships.
package cluster
