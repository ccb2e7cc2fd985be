package bunstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/uptrace/bun"

	"github.com/sendoka/sendoka/sendoka"
)

type audienceRow struct {
	bun.BaseModel `bun:"table:audiences,alias:au"`

	ID          string    `bun:"id,pk"`
	OrgID       string    `bun:"org_id"`
	TenantID    string    `bun:"tenant_id,nullzero"`
	Name        string    `bun:"name"`
	Description string    `bun:"description"`
	CreatedAt   timestamp `bun:"created_at"`
	UpdatedAt   timestamp `bun:"updated_at"`
}

func (r *audienceRow) audience() *sendoka.Audience {
	return &sendoka.Audience{ID: r.ID, OrgID: r.OrgID, TenantID: r.TenantID, Name: r.Name, Description: r.Description,
		CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time}
}

type contactRow struct {
	bun.BaseModel `bun:"table:audience_contacts,alias:ac"`

	ID             string    `bun:"id,pk"`
	AudienceID     string    `bun:"audience_id"`
	Email          string    `bun:"email,nullzero"`
	Phone          string    `bun:"phone,nullzero"`
	FirstName      string    `bun:"first_name,nullzero"`
	LastName       string    `bun:"last_name,nullzero"`
	Data           string    `bun:"data,nullzero"`
	UnsubscribedAt timestamp `bun:"unsubscribed_at,nullzero"`
	CreatedAt      timestamp `bun:"created_at"`
	UpdatedAt      timestamp `bun:"updated_at"`
}

func (r *contactRow) contact() (*sendoka.Contact, error) {
	c := &sendoka.Contact{ID: r.ID, AudienceID: r.AudienceID, Email: r.Email, Phone: r.Phone,
		FirstName: r.FirstName, LastName: r.LastName, UnsubscribedAt: r.UnsubscribedAt.ptr(),
		CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time}
	if err := fromJSON(r.Data, &c.Data); err != nil {
		return nil, err
	}
	return c, nil
}

// contactColumns are the columns UpsertContacts inserts, in the order of contactValues.
var contactColumns = []string{"id", "audience_id", "email", "phone", "first_name", "last_name", "data", "created_at", "updated_at"}

func contactValues(c *sendoka.Contact) ([]any, error) {
	data, err := mapJSON(c.Data)
	if err != nil {
		return nil, err
	}
	return []any{c.ID, c.AudienceID, nullString(c.Email), nullString(c.Phone), nullString(c.FirstName),
		nullString(c.LastName), nullString(data), ts(c.CreatedAt), ts(c.UpdatedAt)}, nil
}

// contactMerge is the update of an upsert: what the new row sets replaces what is stored;
// the id, creation time and unsubscription stay.
const contactMerge = "DO UPDATE SET phone = COALESCE(excluded.phone, audience_contacts.phone), " +
	"first_name = COALESCE(excluded.first_name, audience_contacts.first_name), " +
	"last_name = COALESCE(excluded.last_name, audience_contacts.last_name), " +
	"data = COALESCE(excluded.data, audience_contacts.data), updated_at = excluded.updated_at"

// contactChunk bounds the IN lists of the lookups after an upsert.
const contactChunk = 500

// GetAudience returns an audience of the scope's namespace with its contact counts.
func (db *DB) GetAudience(ctx context.Context, scope sendoka.Scope, id string) (_ *sendoka.Audience, err error) {
	defer classify(ctx, &err)
	var row audienceRow
	if err := inNamespace(db.bun.NewSelect().Model(&row), "au.", scope).Where("au.id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("audience")
		}
		return nil, err
	}
	a := row.audience()
	err = db.bun.NewSelect().TableExpr("audience_contacts").ColumnExpr("COUNT(*)").ColumnExpr("COUNT(unsubscribed_at)").
		Where("audience_id = ?", id).Scan(ctx, &a.Contacts, &a.Unsubscribed)
	return a, err
}

// ListAudiences returns one page of the namespace's audiences, newest first.
func (db *DB) ListAudiences(ctx context.Context, scope sendoka.Scope, aq sendoka.AudienceQuery) (_ *sendoka.AudiencePage, err error) {
	defer classify(ctx, &err)
	limit := aq.Limit
	if limit <= 0 {
		limit = sendoka.DefaultListLimit
	}
	var rows []audienceRow
	q := inNamespace(db.bun.NewSelect().Model(&rows), "au.", scope)
	if c := aq.After; c != nil {
		at := ts(c.CreatedAt)
		q = q.Where("au.created_at <= ?", at).Where("(au.created_at < ? OR au.id < ?)", at, c.ID)
	}
	if err := q.OrderExpr("au.created_at DESC, au.id DESC").Limit(int64(limit + 1)).Scan(ctx); err != nil {
		return nil, err
	}
	page := &sendoka.AudiencePage{Audiences: make([]*sendoka.Audience, 0, min(len(rows), limit))}
	if len(rows) > limit {
		page.HasMore = true
		rows = rows[:limit]
	}
	for i := range rows {
		page.Audiences = append(page.Audiences, rows[i].audience())
	}
	return page, nil
}

// ListContacts returns one page of an audience's contacts, newest first.
func (db *DB) ListContacts(ctx context.Context, audienceID string, cq sendoka.ContactQuery) (_ *sendoka.ContactPage, err error) {
	defer classify(ctx, &err)
	limit := cq.Limit
	if limit <= 0 {
		limit = sendoka.DefaultListLimit
	}
	var rows []contactRow
	q := db.bun.NewSelect().Model(&rows).Where("ac.audience_id = ?", audienceID)
	if cq.Subscribed != nil {
		if *cq.Subscribed {
			q = q.Where("ac.unsubscribed_at IS NULL")
		} else {
			q = q.Where("ac.unsubscribed_at IS NOT NULL")
		}
	}
	if c := cq.After; c != nil {
		at := ts(c.CreatedAt)
		q = q.Where("ac.created_at <= ?", at).Where("(ac.created_at < ? OR ac.id < ?)", at, c.ID)
	}
	if err := q.OrderExpr("ac.created_at DESC, ac.id DESC").Limit(int64(limit + 1)).Scan(ctx); err != nil {
		return nil, err
	}
	page := &sendoka.ContactPage{Contacts: make([]*sendoka.Contact, 0, min(len(rows), limit))}
	if len(rows) > limit {
		page.HasMore = true
		rows = rows[:limit]
	}
	for i := range rows {
		c, err := rows[i].contact()
		if err != nil {
			return nil, err
		}
		page.Contacts = append(page.Contacts, c)
	}
	return page, nil
}

// InsertAudience inserts an audience.
func (t *Tx) InsertAudience(ctx context.Context, a *sendoka.Audience) error {
	row := &audienceRow{ID: a.ID, OrgID: a.OrgID, TenantID: a.TenantID, Name: a.Name, Description: a.Description,
		CreatedAt: ts(a.CreatedAt), UpdatedAt: ts(a.UpdatedAt)}
	_, err := t.tx.NewInsert().Model(row).Returning("NULL").Exec(ctx)
	return conflict(err, "audience")
}

// UpdateAudience writes an audience's name, description and update time.
func (t *Tx) UpdateAudience(ctx context.Context, a *sendoka.Audience) error {
	scope := sendoka.Scope{OrgID: a.OrgID, TenantID: a.TenantID}
	q := t.tx.NewUpdate().Table("audiences").Set("name = ?", a.Name).Set("description = ?", a.Description).
		Set("updated_at = ?", ts(a.UpdatedAt)).Where("id = ?", a.ID)
	ok, err := affected(inNamespace(q, "", scope).Exec(ctx))
	if err != nil {
		return err
	}
	if !ok {
		return sendoka.NotFound("audience")
	}
	return nil
}

// DeleteAudience removes an audience of the scope's namespace and its contacts.
func (t *Tx) DeleteAudience(ctx context.Context, scope sendoka.Scope, id string) error {
	// The contacts go explicitly: SQLite only cascades with foreign keys switched on.
	if _, err := t.tx.NewDelete().TableExpr("audience_contacts").
		Where("audience_id = (?)", inNamespace(t.tx.NewSelect().TableExpr("audiences").Column("id").Where("id = ?", id), "", scope)).
		Exec(ctx); err != nil {
		return err
	}
	q := t.tx.NewDelete().TableExpr("audiences").Where("id = ?", id)
	ok, err := affected(inNamespace(q, "", scope).Exec(ctx))
	if err != nil {
		return err
	}
	if !ok {
		return sendoka.NotFound("audience")
	}
	return nil
}

// UpsertContacts adds or merges contacts: the email-keyed and the phone-keyed ones each in
// multi-row INSERT ... ON CONFLICT statements of at most 1 MiB of values (insertValuesOn),
// then reads back what is stored.
func (t *Tx) UpsertContacts(ctx context.Context, audienceID string, contacts []*sendoka.Contact) ([]*sendoka.Contact, []bool, error) {
	var byEmail, byPhone [][]any
	var emails, phones []string
	for _, c := range contacts {
		vals, err := contactValues(c)
		if err != nil {
			return nil, nil, err
		}
		vals[1] = audienceID
		if c.Email != "" {
			byEmail = append(byEmail, vals)
			emails = append(emails, c.Email)
		} else {
			byPhone = append(byPhone, vals)
			phones = append(phones, c.Phone)
		}
	}
	if err := t.insertValuesOn(ctx, "audience_contacts", contactColumns, byEmail,
		"ON CONFLICT (audience_id, email) WHERE email IS NOT NULL "+contactMerge); err != nil {
		return nil, nil, err
	}
	if err := t.insertValuesOn(ctx, "audience_contacts", contactColumns, byPhone,
		"ON CONFLICT (audience_id, phone) WHERE email IS NULL "+contactMerge); err != nil {
		return nil, nil, err
	}
	stored := map[string]*sendoka.Contact{}
	read := func(col string, keys []string, extra string) error {
		for start := 0; start < len(keys); start += contactChunk {
			var rows []contactRow
			q := t.tx.NewSelect().Model(&rows).Where("ac.audience_id = ?", audienceID).
				Where("ac."+col+" IN (?)", bun.In(keys[start:min(start+contactChunk, len(keys))]))
			if extra != "" {
				q = q.Where(extra)
			}
			if err := q.Scan(ctx); err != nil {
				return err
			}
			for i := range rows {
				c, err := rows[i].contact()
				if err != nil {
					return err
				}
				if col == "email" {
					stored["e:"+c.Email] = c
				} else {
					stored["p:"+c.Phone] = c
				}
			}
		}
		return nil
	}
	if err := read("email", emails, ""); err != nil {
		return nil, nil, err
	}
	if err := read("phone", phones, "ac.email IS NULL"); err != nil {
		return nil, nil, err
	}
	out := make([]*sendoka.Contact, len(contacts))
	created := make([]bool, len(contacts))
	for i, c := range contacts {
		key := "p:" + c.Phone
		if c.Email != "" {
			key = "e:" + c.Email
		}
		s := stored[key]
		if s == nil {
			return nil, nil, errors.New("bunstore: an upserted contact is missing")
		}
		out[i], created[i] = s, s.ID == c.ID
	}
	return out, created, nil
}

// DeleteContact removes a contact of the audience.
func (t *Tx) DeleteContact(ctx context.Context, audienceID, contactID string) error {
	ok, err := affected(t.tx.NewDelete().TableExpr("audience_contacts").Where("id = ?", contactID).
		Where("audience_id = ?", audienceID).Exec(ctx))
	if err != nil {
		return err
	}
	if !ok {
		return sendoka.NotFound("contact")
	}
	return nil
}
