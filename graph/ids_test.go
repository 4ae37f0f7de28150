package graph

import (
	"strings"
	"testing"
)

// Profile ids are stored and handed out, so the way they are derived must
// never change by accident. The expected ids were computed apart from this
// code, with Python:
//
//	python3 -c 'import hashlib,base64,re,sys; s,a=sys.argv[1],int(sys.argv[2]); s+=("#%d"%a if a else "#0" if re.search("#[0-9]+$",s) else ""); print("p_"+base64.b32encode(hashlib.sha256(s.encode()).digest()[:13]).decode().rstrip("=").lower())' 'email:ann@example.com' 1
func TestProfileIDForVectors(t *testing.T) {
	for _, v := range []struct {
		seed    string
		attempt int
		want    string
	}{
		{"email:ann@example.com", 0, "p_gxz3gfyng3ikc6orx6hjy"},
		{"email:ann@example.com", 1, "p_fvqinxtoe4aeb4p45jumu"},
		{"email:ann@example.com", 2, "p_mj46ejv7hgvbhnxqm7ggu"},
		{"user_id:u-42", 0, "p_6kxytinqjr4fqqy7r4ml2"},
		{"user_id:u-42", 1, "p_ehqy6swwf55pkiunbjlzi"},
		{"user_id:u-42", 2, "p_4xdtys63hmmwvyzkoayqe"},
		{"anonymous_id:X", 0, "p_wn422mf2ykzfroxp2e34o"},
		{"anonymous_id:X", 1, "p_7b47tw5jr6xqwsxgygoci"},
		{"anonymous_id:X", 2, "p_g5w45hrbgfq7nannwmwgc"},
		{"phone:+393331234567", 0, "p_kcmkokrhss2wn33sy4iw2"},
		{"phone:+393331234567", 1, "p_35iahegxawxlfuectcihy"},
		{"phone:+393331234567", 2, "p_j766fm5b56jg7um5upk3g"},
		// A part split off profile p_abc is seeded by the old id and the
		// part's first key.
		{"p_abc/device_id:d1", 0, "p_ndnum45f5vhiqqtny3k24"},
		{"p_abc/device_id:d1", 1, "p_jkefesh3qoa3kee4slefq"},
		{"p_abc/device_id:d1", 2, "p_luzmrtcimay2z7hftxbec"},
		// A seed ending in "#" and digits gets "#0" at attempt 0, so that
		// it is never the second attempt of "anonymous_id:x" (which is
		// p_awsiitlr76h6nxomheweq); the rest is as for any seed.
		{"anonymous_id:x#1", 0, "p_fvd4mqwaf627sfjcw22wc"},
		{"anonymous_id:x#1", 1, "p_lusjus5rkl3eg6bsri5k2"},
		{"anonymous_id:x", 1, "p_awsiitlr76h6nxomheweq"},
		{"user_id:acct#12", 0, "p_7ssjh72kjptl6edk4bjkg"},
		{"user_id:acct#", 0, "p_ts3pu4kbpuqgiwflykgdq"},
		{"user_id:acct#1a", 0, "p_nbqqyeysn5r7jtaqoscus"},
		// Seeds are hashed as their UTF-8 bytes.
		{"email:zoë@exämple.com", 0, "p_4qgnq3exekak6gm44hoao"},
		{"email:zoë@exämple.com", 1, "p_idq5xfzxjtwlg4qkst6hk"},
		{"email:zoë@exämple.com", 2, "p_ljbkufvzxy7gjdymtwft2"},
	} {
		if got := ProfileIDFor(v.seed, v.attempt); got != v.want {
			t.Errorf("ProfileIDFor(%q, %d) = %s, want %s", v.seed, v.attempt, got, v.want)
		}
	}
}

// TestMemberDigestVectors pins MemberDigest: history stores it, and a split
// matches parts against it, so a change would stop old ids coming back.
// Expected values: python3 -c 'import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest()[:16])' KEY
func TestMemberDigestVectors(t *testing.T) {
	for key, want := range map[string]string{
		"email:ann@example.com": "35f3b3170d36d0a1",
		"user_id:u-42":          "f2af89a1b04c7858",
		"anonymous_id:a1":       "727ce68a58c2840b",
	} {
		if got := MemberDigest(key); got != want {
			t.Errorf("MemberDigest(%q) = %s, want %s", key, got, want)
		}
	}
}

// KeyRef names an identifier by its type and digest, never its value. The
// digest was computed apart from this code, with Python:
// hashlib.sha256(b"email:ann@example.com").hexdigest()[:16].
func TestKeyRef(t *testing.T) {
	k := "email:ann@example.com"
	got := KeyRef(k)
	if got != "email 35f3b3170d36d0a1" || strings.Contains(got, "ann") {
		t.Fatalf("KeyRef(%q) = %q", k, got)
	}
}

func TestProfileIDShape(t *testing.T) {
	for id, want := range map[string]bool{
		ProfileIDFor("email:ann@example.com", 0): true, ProfileIDFor("user_id:u1", 3): true,
		"p_a": true, "p_x9": true, "p_": false, "": false, "ann@example.com": false, "p_ABC": false,
		"p_a-b": false, "q_abc": false, "p_" + strings.Repeat("a", 62): true, "p_" + strings.Repeat("a", 63): false,
		"p_é": false,
	} {
		if got := ProfileIDShape(id); got != want {
			t.Errorf("ProfileIDShape(%q) = %v, want %v", id, got, want)
		}
	}
}
