"""A torch recurrent layer (nn.RNN, nn.GRU, nn.LSTM) holding given numpy weights: what the references are checked against."""
import torch


def torch_layer(cls, W_ih, W_hh, b_ih, b_hh):
    """``cls`` in float64, batch first, one layer, with these weights and biases (torch's gate order)."""
    layer = cls(W_ih.shape[1], W_hh.shape[1], batch_first=True).double()
    with torch.no_grad():
        for name, value in (("weight_ih_l0", W_ih), ("weight_hh_l0", W_hh), ("bias_ih_l0", b_ih),
                            ("bias_hh_l0", b_hh)):
            getattr(layer, name).copy_(torch.from_numpy(value))
    return layer
