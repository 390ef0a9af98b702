package cluster

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipelinerun-sidecars/pipelinerun-sidecars/oracle"
	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// servedPolicy is one ClusterAdmissionPolicy of deploy/cluster/ as policy-server holds it.
type servedPolicy struct {
	id       string // Kubewarden's unique name, the path's last segment
	manifest *unstructured.Unstructured
	module   *oracle.Policy
	mutating bool
	settings atomic.Pointer[map[string]any]
	reads    map[schema.GroupVersionKind]bool // its contextAwareResources
	mu       sync.Mutex
	took     []time.Duration // each request's time in the server, from its body read to its answer written
}

// policyServer serves the compiled module the way Kubewarden's policy-server does: `POST
// /validate/<policy id>` takes an AdmissionReview, the module evaluates a ValidationRequest (the
// AdmissionRequest and the policy's settings) in a fresh instance, on one worker per core, and the
// answer's mutated object is diffed against the request's into a JSONPatch
// (policy-evaluator's AdmissionResponse::from_policy_validation_response); the message, code, warnings
// and audit annotations are passed through. The policy's host calls to read the cluster are answered
// for its contextAwareResources only, as policy-server answers them.
type policyServer struct {
	policies  map[string]*servedPolicy
	cluster   dynamic.Interface
	workers   chan struct{}
	real      *realPolicyServer // the policy-server the answers come from, if one is given
	server    *http.Server
	address   string
	verdicts  sync.Map // verdictKey to the *admissionv1.AdmissionResponse last given
	dropped   sync.Map // "<kind>/<name>" of the requests dropped
	readsLock sync.Mutex
	reads     map[string]cachedRead // what the policies read of the cluster, by what they asked
	// drop, when it says so for a request, makes the server close the connection without answering,
	// as a server that is down or over its timeout looks to the API server.
	drop atomic.Pointer[func(*admissionv1.AdmissionRequest) bool]
}

func newPolicyServer(ctx context.Context, module string, manifests []*unstructured.Unstructured,
	cluster dynamic.Interface) (*policyServer, error) {
	compiled, err := oracle.LoadPolicy(ctx, module)
	if err != nil {
		return nil, err
	}
	s := &policyServer{
		policies: map[string]*servedPolicy{},
		reads:    map[string]cachedRead{},
		cluster:  cluster,
		workers:  make(chan struct{}, runtime.NumCPU()),
	}
	for _, manifest := range manifests {
		// policy-server's monitor mode and custom rejection messages are not emulated.
		mode, _, _ := unstructured.NestedString(manifest.Object, "spec", "mode")
		if _, message := manifest.Object["spec"].(map[string]any)["message"]; (mode != "" && mode != "protect") || message {
			return nil, fmt.Errorf("%s: the suite serves policies in mode protect without a message", manifest.GetName())
		}
		p := &servedPolicy{id: "clusterwide-" + manifest.GetName(), manifest: manifest, reads: map[schema.GroupVersionKind]bool{}}
		p.module = compiled.WithHost(s.host(p))
		p.mutating, _, _ = unstructured.NestedBool(manifest.Object, "spec", "mutating")
		resources, _, _ := unstructured.NestedSlice(manifest.Object, "spec", "contextAwareResources")
		for _, r := range resources {
			entry, _ := r.(map[string]any)
			gv, err := schema.ParseGroupVersion(fmt.Sprint(entry["apiVersion"]))
			if err != nil {
				return nil, err
			}
			p.reads[gv.WithKind(fmt.Sprint(entry["kind"]))] = true
		}
		// policy-server gives a policy without settings `{}`.
		settings, _, _ := unstructured.NestedMap(manifest.Object, "spec", "settings")
		if settings == nil {
			settings = map[string]any{}
		}
		if err := s.setSettings(ctx, p, settings); err != nil {
			return nil, err
		}
		s.policies[p.id] = p
	}
	return s, nil
}

// setSettings validates settings as policy-server does when it loads a policy, then serves them: a
// real policy-server is restarted with them.
func (s *policyServer) setSettings(ctx context.Context, p *servedPolicy, settings map[string]any) error {
	if err := p.module.ValidateSettings(ctx, settings); err != nil {
		return fmt.Errorf("policy %s: settings refused: %w", p.id, err)
	}
	p.settings.Store(&settings)
	if s.real == nil || s.real.process == nil {
		return nil
	}
	s.real.stop()
	return s.real.start(ctx, s.policies)
}

// serve listens on 127.0.0.1 with the serving certificate, at address ("127.0.0.1:0" for any port).
func (s *policyServer) serve(p pki, address string) error {
	listener, err := net.Listen("tcp", address)
	if err != nil {
		return err
	}
	certificate, err := tls.LoadX509KeyPair(p.certFile, p.keyFile)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /validate/{id}", s.validate)
	// HTTP/1.1 only: the API server speaks it to a webhook behind a Service, as Kubewarden registers
	// policy-server (apiserver's pkg/util/webhook/client.go), and offers HTTP/2 only to a URL on the
	// loopback, as the suite's registrations are.
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	s.server = &http.Server{Handler: mux, Protocols: protocols,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{certificate}}}
	s.address = listener.Addr().String()
	go func() { _ = s.server.ServeTLS(listener, "", "") }()
	return nil
}

// url is where the API server sends the AdmissionReviews.
func (s *policyServer) url() string { return "https://" + s.address }

// stopped stops the server until the test ends, then serves again at the same address.
func (s *policyServer) stopped(t *testing.T, p pki) {
	t.Helper()
	if err := s.server.Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.serve(p, s.address); err != nil {
			t.Fatalf("serving again: %v", err)
		}
	})
}

func (s *policyServer) close() {
	if s != nil && s.server != nil {
		_ = s.server.Close()
		s.real.stop()
	}
}

func (s *policyServer) validate(w http.ResponseWriter, r *http.Request) {
	p, ok := s.policies[r.PathValue("id")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
		http.Error(w, "not an AdmissionReview", http.StatusBadRequest)
		return
	}
	began := time.Now()
	if drop := s.drop.Load(); drop != nil && (*drop)(review.Request) {
		s.dropped.Store(review.Request.Kind.Kind+"/"+review.Request.Name, true)
		panic(http.ErrAbortHandler) // the connection is closed unanswered
	}
	var response *admissionv1.AdmissionResponse
	var err error
	if s.real != nil {
		response, err = s.real.forward(r.Context(), p.id, review.Request)
	} else {
		s.workers <- struct{}{}
		response, err = s.evaluate(r.Context(), p, review.Request)
		<-s.workers
	}
	if err != nil {
		response = &admissionv1.AdmissionResponse{Allowed: false,
			Result: &metav1.Status{Message: "internal server error: " + err.Error(), Code: 500}}
	}
	response.UID = review.Request.UID
	s.verdicts.Store(verdictKey(review.Request.Kind.Kind, review.Request.Name, string(review.Request.Operation)), response)
	review.Request, review.Response = nil, response
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(review)
	p.mu.Lock()
	p.took = append(p.took, time.Since(began))
	p.mu.Unlock()
}

func (s *policyServer) evaluate(ctx context.Context, p *servedPolicy,
	request *admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, evaluationTimeout)
	defer cancel()
	answer, err := p.module.Validate(ctx, request, *p.settings.Load())
	if ctx.Err() != nil {
		return &admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{Code: 500,
			Message: "Policy execution interrupted because it exceeded the allowed execution time"}}, nil
	} else if err != nil {
		return nil, err
	}
	response := &admissionv1.AdmissionResponse{
		Allowed:          answer.Accepted,
		Warnings:         answer.Warnings,
		AuditAnnotations: answer.AuditAnnotations,
	}
	if answer.Message != nil || answer.Code != nil {
		response.Result = &metav1.Status{}
		if answer.Message != nil {
			response.Result.Message = *answer.Message
		}
		if answer.Code != nil {
			response.Result.Code = int32(*answer.Code)
		}
	}
	if len(answer.MutatedObject) == 0 || string(answer.MutatedObject) == "null" {
		return response, nil
	}
	patch, err := jsonpatch.CreatePatch(request.Object.Raw, answer.MutatedObject)
	if err != nil {
		return nil, fmt.Errorf("diffing the mutated object: %w", err)
	}
	if len(patch) == 0 {
		return response, nil
	}
	// A validating policy that changes the object is refused, its warnings and audit annotations kept
	// (policy-evaluator's apply_mutation_constraint).
	if !p.mutating {
		response.Allowed, response.Result = false, &metav1.Status{Message: fmt.Sprintf(
			"Request rejected by policy %s. The policy attempted to mutate the request, but it is currently configured to not allow mutations.", p.id)}
		return response, nil
	}
	if response.Patch, err = json.Marshal(patch); err != nil {
		return nil, err
	}
	patchType := admissionv1.PatchTypeJSONPatch
	response.PatchType = &patchType
	return response, nil
}

// evaluationTimeout is policy-server's --policy-timeout default.
const evaluationTimeout = 2 * time.Second

// resourceRequest is the payload of kubewarden/kubernetes/get_resource (the SDK's GetResourceRequest).
type resourceRequest struct {
	APIVersion   string `json:"api_version"`
	Kind         string `json:"kind"`
	Name         string `json:"name"`
	Namespace    string `json:"namespace"`
	DisableCache bool   `json:"disable_cache"`
}

// readCache is how long policy-server keeps an object it read for a policy, unless the policy says
// disable_cache (policy-evaluator's get_resource_cached: `#[cached(time = 5, result = true)]`).
const readCache = 5 * time.Second

type cachedRead struct {
	object []byte
	until  time.Time
}

// host answers p's host calls: get_resource for the kinds it declares, read from the API server, with
// policy-server's cache and its message for an object that is not there.
func (s *policyServer) host(p *servedPolicy) oracle.Host {
	return func(ctx context.Context, binding, namespace, operation string, payload []byte) ([]byte, error) {
		if binding != "kubewarden" || namespace != "kubernetes" || operation != "get_resource" {
			return nil, fmt.Errorf("host capability %s/%s/%s is not served", binding, namespace, operation)
		}
		var want resourceRequest
		if err := json.Unmarshal(payload, &want); err != nil {
			return nil, err
		}
		gv, err := schema.ParseGroupVersion(want.APIVersion)
		if err != nil {
			return nil, err
		}
		if !p.reads[gv.WithKind(want.Kind)] {
			return nil, fmt.Errorf("Policy has not been granted access to Kubernetes %s/%s resources. The violation has been reported.", // policy-evaluator's words
				want.APIVersion, want.Kind)
		}
		gvr, ok := resources[want.Kind]
		if !ok || gvr.GroupVersion() != gv {
			return nil, errors.New("the suite cannot read " + want.APIVersion + " " + want.Kind)
		}
		key := fmt.Sprintf("%s,%s,%s,%s", want.APIVersion, want.Kind, want.Name, want.Namespace)
		// policy-evaluator's cache holds its lock while it reads (`sync_writes`): requests that miss
		// together read once.
		s.readsLock.Lock()
		defer s.readsLock.Unlock()
		if cached, ok := s.reads[key]; ok && !want.DisableCache && time.Now().Before(cached.until) {
			return cached.object, nil
		}
		object, err := s.cluster.Resource(gvr).Namespace(want.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			err = fmt.Errorf("Cannot find %s/%s named '%s' inside of namespace 'Some(%q)'", // policy-evaluator's words
				want.APIVersion, want.Kind, want.Name, want.Namespace)
		}
		if err != nil {
			return nil, fmt.Errorf("Callback evaluation failure: %w", err)
		}
		text, err := json.Marshal(object.Object)
		if err == nil && !want.DisableCache {
			s.reads[key] = cachedRead{object: text, until: time.Now().Add(readCache)}
		}
		return text, err
	}
}

func verdictKey(kind, name, operation string) string { return kind + "/" + name + "/" + operation }

// verdict is the answer given to the CREATE of the object of kind named name, if the policy saw it.
func (s *policyServer) verdict(kind, name string) (*admissionv1.AdmissionResponse, bool) {
	response, ok := s.verdicts.Load(verdictKey(kind, name, "CREATE"))
	if !ok {
		return nil, false
	}
	return response.(*admissionv1.AdmissionResponse), true
}

// registration is the webhook configuration Kubewarden's controller writes for a ClusterAdmissionPolicy
// (internal/controller/policy_subreconciler_webhook.go): one webhook named after the policy, its rules,
// failurePolicy, matchPolicy, objectSelector, sideEffects, timeoutSeconds and matchConditions as
// written, the namespaceSelector's matchExpressions after one leaving out Kubewarden's namespace. The
// controller points it at the policy-server Service; the suite, at baseURL.
func registration(p *servedPolicy, baseURL, caBundle string) *unstructured.Unstructured {
	spec, _, _ := unstructured.NestedMap(p.manifest.Object, "spec")
	selector := []any{map[string]any{"key": "kubernetes.io/metadata.name", "operator": "NotIn",
		"values": []any{"kubewarden"}}}
	if expressions, ok, _ := unstructured.NestedSlice(spec, "namespaceSelector", "matchExpressions"); ok {
		selector = append(selector, expressions...)
	}
	webhook := map[string]any{
		"name":                    p.id + ".kubewarden.admission",
		"clientConfig":            map[string]any{"url": baseURL + "/validate/" + p.id, "caBundle": caBundle},
		"rules":                   spec["rules"],
		"failurePolicy":           or(spec["failurePolicy"], "Fail"),
		"matchPolicy":             or(spec["matchPolicy"], "Equivalent"),
		"namespaceSelector":       map[string]any{"matchExpressions": selector},
		"sideEffects":             or(spec["sideEffects"], "None"),
		"timeoutSeconds":          or(spec["timeoutSeconds"], int64(10)),
		"admissionReviewVersions": []any{"v1"},
	}
	for _, field := range []string{"objectSelector", "matchConditions"} {
		if value, ok := spec[field]; ok {
			webhook[field] = value
		}
	}
	kind := "ValidatingWebhookConfiguration"
	if p.mutating {
		kind = "MutatingWebhookConfiguration"
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1",
		"kind":       kind,
		"metadata":   map[string]any{"name": p.id},
		"webhooks":   []any{webhook},
	}}
}

func or(value, otherwise any) any {
	if value == nil {
		return otherwise
	}
	return value
}
