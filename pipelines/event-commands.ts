import { encode } from '../core/codec.js';
import type { LogProducer } from '../io/log/log.js';
import type { FlexEventCommand } from '../schemas/types.gen.js';
import { TOPICS } from './log-topics.js';

/** The API's flexibility-event commands (schedule, cancel) onto gridstream.events, keyed by event id. */
export interface EventCommands {
  /** Resolves once the log holds the command. */
  send(command: FlexEventCommand): Promise<void>;
}

export function eventCommands(producer: LogProducer): EventCommands {
  return {
    send: (command) =>
      producer.send(TOPICS.events.name, [
        { key: command.event_id, value: encode('FlexEventCommand', command), timestamp: command.at_ms },
      ]),
  };
}
