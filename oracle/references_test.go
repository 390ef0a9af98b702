package oracle

import (
	// containerd links SHA-384 and SHA-512, and go-digest accepts only the digests of linked hashes.
	_ "crypto/sha512"
	"encoding/json"
	"os"
	"testing"

	"github.com/distribution/reference"
)

// TestImageReferences holds test_data/image-references.json to distribution/reference, whose
// ParseDockerRef containerd reads an image with: the Rust test beside src/support/image_reference.rs
// holds the policy's reader to the same file. To add a case, add its image with what you expect; this
// test says what the module makes of it.
func TestImageReferences(t *testing.T) {
	text, err := os.ReadFile("../test_data/image-references.json")
	if err != nil {
		t.Fatal(err)
	}
	var fixture struct {
		Cases []struct {
			Image      string `json:"image"`
			Normalized string `json:"normalized"`
			Error      bool   `json:"error"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(text, &fixture); err != nil {
		t.Fatal(err)
	}
	for _, c := range fixture.Cases {
		named, err := reference.ParseDockerRef(c.Image)
		switch {
		case err != nil && !c.Error:
			t.Errorf("%q: distribution/reference refuses it (%v), the file says %q", c.Image, err, c.Normalized)
		case err == nil && (c.Error || named.String() != c.Normalized):
			t.Errorf("%q: distribution/reference makes it %q, the file says %q (error: %v)", c.Image, named.String(), c.Normalized, c.Error)
		}
	}
}
