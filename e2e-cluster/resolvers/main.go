// Command resolvers runs Tekton's cluster resolver the way Tekton's cmd/resolvers runs all of its
// resolvers (knative's sharedmain, ResolutionRequests filtered by the managed-by label), and only it: the
// others reach the network (git, hub, OCI bundles, http), which the suite on a real control plane does not
// have. It is the suite's, built by `make e2e-cluster` from the Go modules at e2e-cluster/go.mod's versions.
package main

import (
	"github.com/tektoncd/pipeline/pkg/apis/resolution/v1alpha1"
	"github.com/tektoncd/pipeline/pkg/remoteresolution/resolver/cluster"
	"github.com/tektoncd/pipeline/pkg/remoteresolution/resolver/framework"
	filteredinformerfactory "knative.dev/pkg/client/injection/kube/informers/factory/filtered"
	"knative.dev/pkg/injection"
	"knative.dev/pkg/injection/sharedmain"
	"knative.dev/pkg/signals"
)

func main() {
	ctx := filteredinformerfactory.WithSelectors(signals.NewContext(), v1alpha1.ManagedByLabelKey)
	cfg := injection.ParseAndGetRESTConfigOrDie()
	sharedmain.MainWithConfig(ctx, "controller", cfg, framework.NewController(ctx, &cluster.Resolver{}))
}
