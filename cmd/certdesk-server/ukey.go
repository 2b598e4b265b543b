package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"

	"certdesk/app/server/service"
	"certdesk/token"
)

// ukeyCmd is the CA staff's UKEY stock: initialise blank UKEYs with a SO
// PIN only the CA knows (sealed in the database under the CA's
// key-encryption key), list them, and approve PIN unlocks where the CA's
// policy asks for approval.
func ukeyCmd(ctx context.Context, args []string, stdin io.Reader, log *slog.Logger, stdout, stderr io.Writer) error {
	fs, c := commandFlags("ukey", stderr)
	module := fs.String("module", "", "PKCS#11 module of the UKEYs")
	label := fs.String("label", "", "label to give the UKEY")
	slot := fs.String("slot", "", "slot of the blank UKEY (default: the only blank one)")
	asJSON := fs.Bool("json", false, "list as JSON")
	pos, st, svc, err := openVerb(ctx, c, log, fs, args, "ukey: init, list, pending or approve")
	if err != nil {
		return err
	}
	defer st.Close()
	switch pos[0] {
	case "init":
		if *module == "" || *label == "" {
			return usageError("ukey init needs --module and --label")
		}
		return ukeyInit(ctx, svc, *module, *label, *slot, stdin, stdout)
	case "list":
		us, err := svc.UKEYs(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			type row struct {
				Serial    string `json:"serial"`
				Label     string `json:"label"`
				Owner     string `json:"owner_id"`
				CreatedBy string `json:"created_by"`
				Unlocks   int    `json:"unlocks"`
				Rotating  bool   `json:"rotation_pending"`
			}
			rows := []row{}
			for _, u := range us {
				rows = append(rows, row{u.Serial, u.Label, u.OwnerID, u.CreatedBy, u.Unlocks, len(u.NextSOPIN) > 0})
			}
			return json.NewEncoder(stdout).Encode(rows)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SERIAL\tLABEL\tOWNER\tINITIALISED\tBY\tUNLOCKS")
		for _, u := range us {
			owner := u.OwnerID
			if owner == "" {
				owner = "(not issued)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", u.Serial, u.Label, owner, u.CreatedAt.Local().Format("2006-01-02 15:04"), u.CreatedBy, u.Unlocks)
		}
		return tw.Flush()
	case "pending":
		us, err := svc.PendingUnlocks(ctx, operator())
		if err != nil {
			return err
		}
		for _, u := range us {
			fmt.Fprintf(stdout, "%s  UKEY %s  code sent to %s  until %s\n", u.ID, u.Serial, u.Mobile, u.ExpiresAt.Local().Format("2006-01-02 15:04"))
		}
		return nil
	case "approve":
		if len(pos) != 2 {
			return usageError("ukey approve needs the unlock's ID (ukey pending lists them)")
		}
		u, err := svc.ApproveUnlock(ctx, operator(), pos[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "unlock %s approved: the holder has until %s\n", u.ID, u.ExpiresAt.Local().Format("15:04"))
		return nil
	}
	return usageError("ukey: unknown subcommand " + pos[0])
}

func ukeyInit(ctx context.Context, svc *service.Service, module, label, slotArg string, stdin io.Reader, stdout io.Writer) error {
	line, err := bufio.NewReader(stdin).ReadBytes('\n')
	if err != nil && len(line) == 0 {
		return usageError("give the UKEY's first user PIN (the one handed to the holder) on stdin")
	}
	userPIN := []byte(strings.TrimRight(string(line), "\r\n"))
	clear(line)
	defer clear(userPIN)
	if err := token.CheckNewPIN(nil, userPIN); err != nil {
		return fmt.Errorf("first user PIN: %w (6–16 printable characters, not one repeated)", err)
	}
	m, err := token.Load(module)
	if err != nil {
		return err
	}
	defer m.Close()
	blank, err := m.BlankSlots()
	if err != nil {
		return err
	}
	var slot uint
	switch {
	case slotArg != "":
		n, err := strconv.ParseUint(slotArg, 10, 32)
		if err != nil {
			return usageError("--slot: " + err.Error())
		}
		slot = uint(n)
	case len(blank) == 1:
		slot = blank[0]
	case len(blank) == 0:
		return errors.New("no blank UKEY: plug in one that is not initialised (an initialised one is never wiped)")
	default:
		return fmt.Errorf("%d blank UKEYs are plugged in: keep one, or name it with --slot (%v)", len(blank), blank)
	}
	so, err := service.NewSOPIN()
	if err != nil {
		return err
	}
	defer clear(so)
	t, err := m.InitToken(slot, label, append([]byte(nil), so...), append([]byte(nil), userPIN...))
	if err != nil {
		return err
	}
	if err := svc.RecordUKEY(ctx, t.Serial, t.Label, operator().AccountID, append([]byte(nil), so...)); err != nil {
		return fmt.Errorf("UKEY %s was initialised but could not be recorded, so its SO PIN is lost: initialise it again with the vendor's tool before use: %w", t.Serial, err)
	}
	fmt.Fprintf(stdout, "UKEY %s (%s) initialised and recorded; its SO PIN is sealed in the CA's database\n", t.Serial, t.Label)
	return nil
}
