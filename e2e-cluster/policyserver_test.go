package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"
)

// realPolicyServer is Kubewarden's policy-server, when POLICY_SERVER_BIN names a build of it
// (CONTRIBUTING.md says how): the suite starts it on 127.0.0.1 with deploy/cluster/'s policies on the
// module POLICY names (the annotated one), restarts it when a test changes their settings, and its own
// server forwards every AdmissionReview to it, keeping only what the tests read (which objects came,
// the answers) and the dropped requests that play a server that is down.
type realPolicyServer struct {
	bin, module, dir string
	kubeconfig       string
	pki              pki
	process          *process
	url              string
	client           *http.Client
}

// starts counts the policy-servers started, to give each its own log.
var starts int

func newRealPolicyServer(bin, module, dir, kubeconfig string, p pki) *realPolicyServer {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(p.caPEM)
	return &realPolicyServer{bin: bin, module: module, dir: dir, kubeconfig: kubeconfig, pki: p,
		client: &http.Client{
			Timeout:   10 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
		}}
}

// start writes policies.yml for policies and starts policy-server, with the suite's kubeconfig for the
// policies' reads of the cluster, and waits for its readiness probe.
func (r *realPolicyServer) start(ctx context.Context, policies map[string]*servedPolicy) error {
	config := map[string]any{}
	for id, policy := range policies {
		entry := map[string]any{
			"module":          "file://" + r.module,
			"allowedToMutate": policy.mutating,
			"settings":        *policy.settings.Load(),
		}
		if resources, ok := policy.manifest.Object["spec"].(map[string]any)["contextAwareResources"]; ok {
			entry["contextAwareResources"] = resources
		}
		config[id] = entry
	}
	text, err := yaml.Marshal(config)
	if err != nil {
		return err
	}
	path := filepath.Join(r.dir, "policies.yml")
	if err := os.WriteFile(path, text, 0o600); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	readiness, err := freePort()
	if err != nil {
		return err
	}
	r.url = "https://127.0.0.1:" + strconv.Itoa(port)
	starts++
	r.process, err = start(r.dir, fmt.Sprintf("policy-server-%d", starts), r.bin, []string{"KUBECONFIG=" + r.kubeconfig},
		"--policies", path, "--addr", "127.0.0.1", "--port", strconv.Itoa(port),
		"--readiness-probe-port", strconv.Itoa(readiness), "--cert-file", r.pki.certFile, "--key-file", r.pki.keyFile,
		"--policies-download-dir", r.dir, "--sigstore-cache-dir", filepath.Join(r.dir, "sigstore"))
	if err != nil {
		return err
	}
	probe := "http://127.0.0.1:" + strconv.Itoa(readiness) + "/readiness"
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true,
		func(ctx context.Context) (bool, error) {
			if err := r.process.exited(); err != nil {
				return false, fmt.Errorf("%w (its log is in %s)", err, r.dir)
			}
			response, err := http.Get(probe)
			if err != nil {
				return false, nil
			}
			_ = response.Body.Close()
			return response.StatusCode == http.StatusOK, nil
		})
}

func (r *realPolicyServer) stop() {
	if r != nil {
		r.process.stop()
	}
}

// forward sends request to the policy id and gives its answer.
func (r *realPolicyServer) forward(ctx context.Context, id string, request *admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, error) {
	review := admissionv1.AdmissionReview{Request: request}
	review.APIVersion, review.Kind = "admission.k8s.io/v1", "AdmissionReview"
	body, err := json.Marshal(review)
	if err != nil {
		return nil, err
	}
	post, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url+"/validate/"+id, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	post.Header.Set("Content-Type", "application/json")
	response, err := r.client.Do(post)
	if err != nil {
		return nil, err
	}
	defer func() { _ = response.Body.Close() }()
	var answer admissionv1.AdmissionReview
	if err := json.NewDecoder(response.Body).Decode(&answer); err != nil || answer.Response == nil {
		return nil, fmt.Errorf("policy-server answered %s without an AdmissionReview", response.Status)
	}
	return answer.Response, nil
}
