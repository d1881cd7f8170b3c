// Command registry: add a subcommand by writing cli/commands/<name>.ts and listing it here.
import type { Command } from '../command.js';
import { classify } from './classify.js';
import { evalCommand } from './eval.js';
import { inspectCommand } from './inspect.js';
import { profileCommand } from './profile.js';
import { verifyCommand } from './verify.js';
import { serve } from './serve.js';

export const commands: readonly Command[] = [classify, serve, evalCommand, profileCommand, inspectCommand, verifyCommand];
