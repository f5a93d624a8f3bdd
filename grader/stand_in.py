"""Stand-ins for earlier parts, in the student's kernel when grading: calls answered by the grader's worker.

When a later part calls an earlier one that did not pass its hidden test, the probe calls a
stand-in instead: it sends the arguments to the worker as plain data (``grader.wire``), the
worker runs the reference there and sends back the result, as plain data. So a mistake costs
points once, and the kernel never holds reference code. Where the arguments include torch
tensors that require grad, the stand-in is differentiable: its backward pass asks the worker
for the vector-Jacobian product, so a training step can differentiate through it.
"""
import sys

from grader.wire import decode, encode, tensors_in


class StandInError(RuntimeError):
    """The worker could not answer a call to a stand-in."""


def stand_in(name, ask):
    """A function called like the student's ``name``, answered by the worker through ``ask``."""
    def call(*args, **kwargs):
        inputs = tensors_in([list(args), kwargs])
        torch = sys.modules.get("torch")
        grads = [bool(t.requires_grad) for t in inputs]
        differentiable = torch is not None and torch.is_grad_enabled() and any(grads)
        request = {"kind": "call", "name": name, "args": encode(list(args)), "kwargs": encode(kwargs)}
        if differentiable:
            request["grad"] = grads
        reply = _answer(name, ask(request))
        value = decode(reply["value"])
        if differentiable:
            outputs = tensors_in(value)
            _Backward.get().apply(reply["id"], name, ask, outputs, *inputs)
        return value

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"The grader's stand-in for {name} (yours did not pass its hidden test): the reference's results."
    return call


def _answer(name, reply):
    if "error" in reply:
        raise StandInError(f"the grader's stand-in for {name} (used because your {name} did not pass its hidden "
                           f"test) could not answer this call: {str(reply['error'])[:300]}")
    return reply


class _Backward:
    """The autograd node joining a stand-in's outputs to its inputs (torch is imported only when needed)."""

    _function = None

    @classmethod
    def get(cls):
        if cls._function is None:
            import torch

            class StandInBackward(torch.autograd.Function):
                @staticmethod
                def forward(ctx, call_id, name, ask, outputs, *inputs):
                    ctx.call_id, ctx.name, ctx.ask = call_id, name, ask
                    ctx.mark_non_differentiable(*[o for o in outputs if not o.is_floating_point()])
                    return tuple(outputs)

                @staticmethod
                def backward(ctx, *grad_outputs):
                    reply = _answer(ctx.name, ctx.ask({"kind": "backward", "id": ctx.call_id,
                                                       "grads": encode(list(grad_outputs))}))
                    grads = decode(reply["value"])
                    return (None, None, None, None, *grads)

            cls._function = StandInBackward
        return cls._function
