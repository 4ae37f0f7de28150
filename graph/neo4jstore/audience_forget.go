package neo4jstore

import (
	"context"
	"fmt"

	"github.com/idgraph/cdp/audience"
)

var _ audience.TxForget = (*tx)(nil)

// qForgetProfiles deletes, in one statement, the audience data of the
// erased profiles ($erased) and the computed values of $erased and
// $changed. The audiences an erased profile is in are locked first (the
// SET of their id to itself: a value read before the lock is granted must
// be one no transaction changes, see write.go), in id order, as ApplyMembership locks its
// audience before it reads members: a concurrent exit of the same member
// waits, or is waited for, and the size drops once per member deleted.
// Their members of audiences being deleted (the members DeleteAudience
// has not reached yet) go too, each such audience's tombstone locked
// first, in id order, as finishAudienceDeletion locks it before each
// chunk: the erased ids leave nothing behind, whenever that deletion
// finishes. Those are no memberships any more, and are not counted.
var qForgetProfiles = cypher(`
CALL () {
  UNWIND $erased AS p
  MATCH (m:{{AudienceMember}} { {{profileId}}: p })
  USING INDEX SEEK m:{{AudienceMember}}({{profileId}})
  WITH DISTINCT m.{{audienceId}} AS aid
  ORDER BY aid
  RETURN collect(aid) AS aids
}
CALL (aids) {
  UNWIND aids AS aid
  MATCH (a:{{Audience}} { {{id}}: aid })
  SET a.{{id}} = a.{{id}}
  WITH a
  CALL (a) {
    UNWIND $erased AS p
    MATCH (m:{{AudienceMember}} { {{audienceId}}: a.{{id}}, {{profileId}}: p })
    USING INDEX SEEK m:{{AudienceMember}}({{audienceId}}, {{profileId}})
    DELETE m
    RETURN count(*) AS n
  }
  SET a.{{size}} = CASE WHEN a.{{size}} > n THEN a.{{size}} - n ELSE 0 END
  RETURN sum(n) AS members
}
CALL (aids) {
  UNWIND aids AS aid
  MATCH (t:{{AudienceDeletion}} { {{audienceId}}: aid })
  SET t.{{lock}} = true
  WITH t
  CALL (t) {
    UNWIND $erased AS p
    MATCH (m:{{AudienceMember}} { {{audienceId}}: t.{{audienceId}}, {{profileId}}: p })
    USING INDEX SEEK m:{{AudienceMember}}({{audienceId}}, {{profileId}})
    DELETE m
    RETURN count(*) AS n
  }
  RETURN sum(n) AS leftovers
}
CALL () {
  UNWIND $erased AS p
  MATCH (c:{{AudienceChange}} { {{profileId}}: p })
  USING INDEX SEEK c:{{AudienceChange}}({{profileId}})
  DELETE c
  RETURN count(*) AS changes
}
CALL () {
  UNWIND $erased + $changed AS p
  MATCH (v:{{ComputedValue}} { {{profileId}}: p })
  USING INDEX SEEK v:{{ComputedValue}}({{profileId}}, {{name}})
  WHERE v.{{name}} IS NOT NULL
  DELETE v
  RETURN count(*) AS values
}
RETURN members, changes, values`)

// ForgetProfiles implements audience.TxForget, in one statement whatever
// the number of ids.
func (t *tx) ForgetProfiles(ctx context.Context, erased, changed []string) (audience.Forgotten, error) {
	if len(erased) == 0 && len(changed) == 0 {
		return audience.Forgotten{}, nil
	}
	recs, err := t.query(ctx, qForgetProfiles, map[string]any{"erased": uniq(erased), "changed": uniq(changed)})
	if err != nil {
		return audience.Forgotten{}, fmt.Errorf("forget audience data: %w", err)
	}
	if len(recs) != 1 {
		return audience.Forgotten{}, fmt.Errorf("forget audience data: %d rows", len(recs))
	}
	m, _ := recs[0].Values[0].(int64)
	c, _ := recs[0].Values[1].(int64)
	v, _ := recs[0].Values[2].(int64)
	return audience.Forgotten{Memberships: int(m), Changes: int(c), Values: int(v)}, nil
}
