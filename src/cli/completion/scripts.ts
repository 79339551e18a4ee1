/**
 * The scripts `starget completion bash|zsh|fish` prints. Each one asks `starget __complete SHELL -- …` for
 * candidates: the first output line is a directive (`values` or `files`), then one candidate per line.
 */

export type Shell = 'bash' | 'zsh' | 'fish';
export const SHELLS: readonly Shell[] = ['bash', 'zsh', 'fish'];

/** The completion script for `shell`, calling the program named `program` (normally `starget`). */
export function completionScript(shell: Shell, program = 'starget'): string {
  const fn = `_${program.replace(/[^A-Za-z0-9_]/g, '_')}_complete`;
  switch (shell) {
    case 'bash':
      return `# bash completion for ${program}
# Load it in the current shell:  source <(${program} completion bash)
# Or install it:                 ${program} completion bash > ~/.local/share/bash-completion/completions/${program}
${fn}() {
  local line directive="" cur="\${COMP_WORDS[COMP_CWORD]}"
  COMPREPLY=()
  while IFS= read -r line; do
    if [[ -z $directive ]]; then directive=$line; continue; fi
    COMPREPLY+=("$line")
  done < <(${program} __complete bash -- "$cur" "\${COMP_LINE:0:COMP_POINT}" 2>/dev/null)
  if [[ $directive == files ]]; then
    compopt -o default 2>/dev/null
    COMPREPLY=()
    return 0
  fi
  local c
  for c in "\${COMPREPLY[@]}"; do
    if [[ $c == */ || $c == *= ]]; then compopt -o nospace 2>/dev/null; break; fi
  done
  return 0
}
complete -F ${fn} ${program}
`;
    case 'zsh':
      return `#compdef ${program}
# zsh completion for ${program}
# Load it in the current shell:  source <(${program} completion zsh)
# Or install it:                 ${program} completion zsh > "\${fpath[1]}/_${program}"
${fn}() {
  local -a lines dirs others
  local directive line
  lines=("\${(@f)$(${program} __complete zsh -- "\${(@Q)words[2,CURRENT]}" 2>/dev/null)}")
  directive=\${lines[1]}
  if [[ $directive == files ]]; then
    _files
    return
  fi
  for line in "\${(@)lines[2,-1]}"; do
    [[ -z $line ]] && continue
    if [[ $line == */ || $line == *= ]]; then dirs+=("$line"); else others+=("$line"); fi
  done
  (( \${#dirs} )) && compadd -S '' -- "\${dirs[@]}"
  (( \${#others} )) && compadd -- "\${others[@]}"
  return 0
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${program}
fi
`;
    case 'fish':
      return `# fish completion for ${program}
# Load it in the current shell:  ${program} completion fish | source
# Or install it:                 ${program} completion fish > ~/.config/fish/completions/${program}.fish
function ${fn}
    set -l tokens (commandline -opc)
    set -l current (commandline -ct)
    set -l out (${program} __complete fish -- $tokens[2..-1] "$current" 2>/dev/null)
    if test "$out[1]" = files
        __fish_complete_path "$current"
        return
    end
    printf '%s\\n' $out[2..-1]
end
complete -c ${program} -f -a '(${fn})'
`;
  }
}
