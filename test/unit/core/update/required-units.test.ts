/**
 * Which units a healthy boot needs: those the configuration runs (a starting command or
 * enable, not masked) and every declared container; not units only written or stopped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requiredUnitsOf } from '../../../../agent/core/update/required-units.js';
import { validate } from '../config/helpers.js';

test('units the config starts or enables, and the containers; not those written, stopped or masked', () => {
  const config = validate(`#cloud-config
coreos:
  units:
    - name: started.service
      command: start
      content: "[Service]\\nExecStart=/bin/true\\n"
    - name: restarted.service
      command: restart
    - name: enabled.timer
      enable: true
    - name: written.service
      content: "[Service]\\nExecStart=/bin/true\\n"
    - name: stopped.service
      command: stop
    - name: masked.service
      mask: true
      command: start
host-agent:
  containers:
    - name: web
      image: example.com/web:1.0.0
`).config!;
  assert.deepEqual(requiredUnitsOf(config), ['started.service', 'restarted.service', 'enabled.timer', 'container-web.service']);
});
