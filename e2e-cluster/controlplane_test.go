package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
)

// adminToken is the bearer token of the suite's cluster admin (group system:masters), the user that
// kubectl and Tekton's controller act as.
const adminToken = "e2e-cluster-admin"

// pki is the suite's certificate authority and the one serving certificate, for 127.0.0.1, that the API
// server and the webhook both present.
type pki struct {
	caPEM             []byte
	certFile, keyFile string
}

func newPKI(dir string) (pki, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return pki{}, err
	}
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "e2e-cluster-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return pki{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return pki{}, err
	}
	serving := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	servingDER, err := x509.CreateCertificate(rand.Reader, serving, ca, &key.PublicKey, caKey)
	if err != nil {
		return pki{}, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return pki{}, err
	}
	p := pki{
		caPEM:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		certFile: filepath.Join(dir, "serving.crt"),
		keyFile:  filepath.Join(dir, "serving.key"),
	}
	if err := os.WriteFile(p.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: servingDER}), 0o600); err != nil {
		return pki{}, err
	}
	return p, os.WriteFile(p.keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
}

// writeKeyPair writes the key pair the API server signs and checks service account tokens with.
func writeKeyPair(dir string) (private, public string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	privateDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", err
	}
	publicDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", "", err
	}
	private, public = filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	if err := os.WriteFile(private, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: privateDER}), 0o600); err != nil {
		return "", "", err
	}
	return private, public, os.WriteFile(public, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: publicDER}), 0o600)
}

// freePort is a port on 127.0.0.1 that nothing listens on now.
func freePort() (int, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = listener.Close() }()
	return listener.Addr().(*net.TCPAddr).Port, nil
}

// process is a server the suite started, stopped by its pid.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan error
}

func start(dir, name, binary string, env []string, args ...string) (*process, error) {
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); _ = log.Close() }()
	return p, nil
}

// stop sends SIGTERM to the pid, and SIGKILL if it has not exited 10 s later.
func (p *process) stop() {
	if p == nil {
		return
	}
	_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// exited is the process's end, if it has ended.
func (p *process) exited() error {
	select {
	case err := <-p.done:
		p.done <- err
		if err == nil {
			err = errors.New("exited")
		}
		return fmt.Errorf("%s: %w", p.name, err)
	default:
		return nil
	}
}

// controlPlane is etcd and kube-apiserver on 127.0.0.1, with an admin token.
type controlPlane struct {
	dir                  string
	pki                  pki
	etcd, apiserver      *process
	etcdURL, url         string
	config               *rest.Config
	kubeconfig, auditLog string
}

func startControlPlane(ctx context.Context, bin, dir string) (*controlPlane, error) {
	c := &controlPlane{dir: dir, auditLog: filepath.Join(dir, "audit.log")}
	var err error
	if c.pki, err = newPKI(dir); err != nil {
		return nil, err
	}
	if err := c.startEtcd(bin); err != nil {
		return c, err
	}
	if err := c.startAPIServer(bin); err != nil {
		return c, err
	}
	return c, c.waitReady(ctx)
}

func (c *controlPlane) startEtcd(bin string) error {
	client, err := freePort()
	if err != nil {
		return err
	}
	peer, err := freePort()
	if err != nil {
		return err
	}
	clientURL, peerURL := "http://127.0.0.1:"+strconv.Itoa(client), "http://127.0.0.1:"+strconv.Itoa(peer)
	c.etcd, err = start(c.dir, "etcd", filepath.Join(bin, "etcd"), nil,
		"--data-dir="+filepath.Join(c.dir, "etcd"),
		"--listen-client-urls="+clientURL, "--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL, "--listen-metrics-urls=",
		"--unsafe-no-fsync")
	c.etcdURL = clientURL
	return err
}

// auditPolicy records, for the objects the policy sees, who did what and the webhooks' audit
// annotations (level Metadata carries them).
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    resources:
      - group: tekton.dev
        resources: [pipelineruns, taskruns]
      - group: ""
        resources: [pods]
  - level: None
`

func (c *controlPlane) startAPIServer(bin string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	signing, public, err := writeKeyPair(c.dir)
	if err != nil {
		return err
	}
	tokens, policy := filepath.Join(c.dir, "tokens.csv"), filepath.Join(c.dir, "audit-policy.yaml")
	if err := os.WriteFile(tokens, []byte(adminToken+",admin,admin,system:masters\n"), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
		return err
	}
	c.url = "https://127.0.0.1:" + strconv.Itoa(port)
	c.apiserver, err = start(c.dir, "kube-apiserver", filepath.Join(bin, "kube-apiserver"), nil,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+strconv.Itoa(port),
		"--etcd-servers="+c.etcdURL,
		"--tls-cert-file="+c.pki.certFile, "--tls-private-key-file="+c.pki.keyFile,
		"--token-auth-file="+tokens, "--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc", "--service-account-key-file="+public,
		"--service-account-signing-key-file="+signing, "--service-cluster-ip-range=10.96.0.0/16",
		"--audit-policy-file="+policy, "--audit-log-path="+c.auditLog,
		"--audit-log-mode=blocking", "--profiling=false")
	if err != nil {
		return err
	}
	c.config = &rest.Config{
		Host:            c.url,
		BearerToken:     adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.pki.caPEM},
		QPS:             200,
		Burst:           400,
	}
	c.kubeconfig, err = c.writeKubeconfig("kubeconfig", adminToken)
	return err
}

// writeKubeconfig writes, under name, a kubeconfig for the API server with a bearer token.
func (c *controlPlane) writeKubeconfig(name, token string) (string, error) {
	path := filepath.Join(c.dir, name)
	return path, os.WriteFile(path, []byte(c.kubeconfigText(token)), 0o600)
}

func (c *controlPlane) kubeconfigText(token string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
  - name: e2e
    cluster: {server: %q, certificate-authority-data: %q}
users:
  - name: admin
    user: {token: %q}
contexts:
  - name: e2e
    context: {cluster: e2e, user: admin}
current-context: e2e
`, c.url, base64.StdEncoding.EncodeToString(c.pki.caPEM), token)
}

// waitReady polls /readyz until the API server reports ready, for at most two minutes.
func (c *controlPlane) waitReady(ctx context.Context) error {
	client, err := rest.HTTPClientFor(c.config)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		request, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url+"/readyz", nil)
		if err != nil {
			return err
		}
		if response, err := client.Do(request); err == nil {
			_ = response.Body.Close()
			if response.StatusCode == http.StatusOK {
				return nil
			}
		}
		for _, p := range []*process{c.etcd, c.apiserver} {
			if err := p.exited(); err != nil {
				return fmt.Errorf("%w (its log is in %s)", err, c.dir)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kube-apiserver not ready after 2 minutes (its log is in %s)", c.dir)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *controlPlane) stop() {
	c.apiserver.stop()
	c.etcd.stop()
}
