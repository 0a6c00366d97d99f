# Install mailpipe: the binaries, the man pages, and shell completions where
# man, bash-completion, zsh and fish look for them.
#
#   make                                  cargo build --release
#   sudo make install                     build if needed, install under /usr/local
#   make install PREFIX=$HOME/.local      no root needed
#   make install DESTDIR=/tmp/pkg         staged install, for packagers
#   make && sudo make install BIN=target/release
#                                         install what `make` built; never run cargo as root
#   make install BIN=target/debug PREFIX=/tmp/x   (the test suite: no second build)
#   sudo make install-sendmail-link sendmaildir=/usr/sbin
#                                         /usr/sbin/sendmail -> PREFIX/bin/smtp-send (on request
#                                         only; sendmaildir defaults to PREFIX/sbin)
#   sudo make uninstall                   remove all of the above
#
# When BIN is given, nothing is built: the binaries in BIN are installed.

PREFIX ?= /usr/local
DESTDIR ?=
CARGO ?= cargo
INSTALL ?= install

bindir = $(PREFIX)/bin
sbindir = $(PREFIX)/sbin
sendmaildir = $(sbindir)
mandir = $(PREFIX)/share/man
# Where the shells look for completions installed by packages: bash-completion
# loads <dir>/<tool> on first use (it searches $XDG_DATA_DIRS, which includes
# /usr/local/share); zsh has PREFIX/share/zsh/site-functions in $fpath; fish
# reads PREFIX/share/fish/vendor_completions.d.
bashcompdir = $(PREFIX)/share/bash-completion/completions
zshcompdir = $(PREFIX)/share/zsh/site-functions
fishcompdir = $(PREFIX)/share/fish/vendor_completions.d

# One tool per src/bin/*.rs: the list cannot drift from the crate.
TOOLS = $(sort $(basename $(notdir $(wildcard src/bin/*.rs))))

ifeq ($(origin BIN),undefined)
BIN = target/release
BUILD = build
else
BUILD =
endif

.PHONY: all build install install-sendmail-link uninstall

all: build

build:
	$(CARGO) build --release --locked

install: $(BUILD)
	@for t in $(TOOLS); do \
	  test -x "$(BIN)/$$t" || { echo "make: $(BIN)/$$t is not built: run make (or give BIN=DIR)" >&2; exit 1; }; \
	done
	$(INSTALL) -d "$(DESTDIR)$(bindir)" "$(DESTDIR)$(mandir)/man1" "$(DESTDIR)$(mandir)/man7" \
	  "$(DESTDIR)$(bashcompdir)" "$(DESTDIR)$(zshcompdir)" "$(DESTDIR)$(fishcompdir)"
	for t in $(TOOLS); do $(INSTALL) -m 755 "$(BIN)/$$t" "$(DESTDIR)$(bindir)/$$t" || exit 1; done
	$(INSTALL) -m 644 man/*.1 "$(DESTDIR)$(mandir)/man1/"
	$(INSTALL) -m 644 man/*.7 "$(DESTDIR)$(mandir)/man7/"
	@# Completion scripts come from each tool's own option definitions.
	set -e; for t in $(TOOLS); do \
	  "$(BIN)/$$t" --completions bash > "$(DESTDIR)$(bashcompdir)/$$t"; \
	  "$(BIN)/$$t" --completions zsh > "$(DESTDIR)$(zshcompdir)/_$$t"; \
	  "$(BIN)/$$t" --completions fish > "$(DESTDIR)$(fishcompdir)/$$t.fish"; \
	  chmod 644 "$(DESTDIR)$(bashcompdir)/$$t" "$(DESTDIR)$(zshcompdir)/_$$t" "$(DESTDIR)$(fishcompdir)/$$t.fish"; \
	done

# Programs that send mail (cron, mutt, git send-email, PHP) run
# /usr/sbin/sendmail: sendmaildir=/usr/sbin puts a link to PREFIX/bin/smtp-send
# there. Never replaces an existing sendmail: remove it (or its package) first.
install-sendmail-link:
	$(INSTALL) -d "$(DESTDIR)$(sendmaildir)"
	@if [ -e "$(DESTDIR)$(sendmaildir)/sendmail" ] || [ -L "$(DESTDIR)$(sendmaildir)/sendmail" ]; then \
	  echo "make: $(DESTDIR)$(sendmaildir)/sendmail exists: remove it (or its package) first" >&2; exit 1; \
	fi
	ln -s "$(bindir)/smtp-send" "$(DESTDIR)$(sendmaildir)/sendmail"

uninstall:
	for t in $(TOOLS); do \
	  rm -f "$(DESTDIR)$(bindir)/$$t" "$(DESTDIR)$(bashcompdir)/$$t" \
	    "$(DESTDIR)$(zshcompdir)/_$$t" "$(DESTDIR)$(fishcompdir)/$$t.fish"; \
	done
	for p in man/*.1; do rm -f "$(DESTDIR)$(mandir)/man1/$${p#man/}"; done
	for p in man/*.7; do rm -f "$(DESTDIR)$(mandir)/man7/$${p#man/}"; done
	@# The sendmail link only if it is ours.
	if [ "$$(readlink "$(DESTDIR)$(sendmaildir)/sendmail")" = "$(bindir)/smtp-send" ]; then \
	  rm -f "$(DESTDIR)$(sendmaildir)/sendmail"; fi
